"""A pymesos scheduler for the framework failover test, unmodified driver.

    failover_scheduler.py MASTER FAILOVER_TIMEOUT MARKER
        Subscribes as a new framework, launches one long `sleep` task whose
        environment carries MARKER (NAME=value), prints
        {"framework_id", "task_id", "state"} once the task is RUNNING and then
        keeps running: the test SIGKILLs it.

    failover_scheduler.py MASTER FAILOVER_TIMEOUT MARKER FRAMEWORK_ID TASK_ID
        Re-subscribes with FRAMEWORK_ID (a scheduler failover), asks for
        explicit reconciliation of TASK_ID and prints {"reregistered",
        "framework_id", "task_id", "state"} with the answer, then keeps
        running. If the master refuses the subscription it prints
        {"error": message} and exits.

Every line printed is one JSON object; the test reads them as they come.
"""
import json
import os
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class FailoverScheduler(Scheduler):
    def __init__(self, marker, task_id):
        self.marker = marker
        self.task_id = task_id
        self.launched = task_id is not None
        self.reregistered_flag = False
        self.lock = threading.Lock()

    def registered(self, driver, framework_id, master_info):
        self.framework_id = framework_id["value"]

    def reregistered(self, driver, master_info):
        self.reregistered_flag = True
        driver.reconcileTasks([{"task_id": {"value": self.task_id}}])

    def resourceOffers(self, driver, offers):
        with self.lock:
            for offer in offers:
                if self.launched:
                    driver.declineOffer(offer.id, filters={"refuse_seconds": 3600})
                    continue
                name, value = self.marker.split("=", 1)
                task = Dict()
                task.task_id.value = "failover-task"
                task.agent_id.value = offer.agent_id.value
                task.name = "failover-task"
                task.command.value = "sleep 600"
                task.command.environment.variables = [dict(name=name, value=value)]
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                driver.launchTasks(offer.id, [task])
                self.task_id = "failover-task"
                self.launched = True

    def statusUpdate(self, driver, update):
        if update.task_id.value != self.task_id:
            return
        say({
            "framework_id": driver.framework_id,
            "task_id": self.task_id,
            "state": update.state,
            "reason": update.get("reason"),
            "reregistered": self.reregistered_flag,
        })

    def error(self, driver, message):
        say({"error": message})
        # The master closes the stream after a refusal; nothing is left to
        # do and the driver would only keep reconnecting.
        os._exit(0)


def main():
    master, timeout, marker = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    framework_id = sys.argv[4] if len(sys.argv) > 4 else None
    task_id = sys.argv[5] if len(sys.argv) > 5 else None
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos failover"
    framework.hostname = "localhost"
    framework.failover_timeout = timeout
    if framework_id:
        framework.id.value = framework_id
    sched = FailoverScheduler(marker, task_id)
    driver = MesosSchedulerDriver(sched, framework, master, use_addict=True)
    driver.start()
    # Runs until the test kills it (SIGKILL: no TEARDOWN is ever sent).
    driver.join()


if __name__ == "__main__":
    main()
