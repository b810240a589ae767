"""A pymesos scheduler for the high-availability test, unmodified driver,
given the masters' ZooKeeper URL (pymesos finds the leader through kazoo).

    ha_scheduler.py ZK_URL TASKS MARKER

Subscribes (failover_timeout one hour), launches TASKS long `sleep` tasks
whose environment carries MARKER (NAME=value) and never launches more.
After every (re)subscription it asks for implicit reconciliation. Prints
one JSON object per line:
    {"event": "subscribed", "framework_id", "master", "count"}
    {"event": "launched", "task_id"}
    {"event": "update", "task_id", "state", "reason", "subscription"}
"subscription" counts (re)subscriptions, so the test can tell the answers
to the latest reconciliation apart. A line "reconcile" on stdin asks for
implicit reconciliation again and prints {"event": "reconciling", "count"};
later updates carry that count as "reconciliation". Runs until killed.
"""
import json
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class HaScheduler(Scheduler):
    def __init__(self, tasks, marker):
        self.tasks = tasks
        self.marker = marker
        self.launched = 0
        self.subscriptions = 0
        self.reconciliations = 0
        self.lock = threading.Lock()

    def _subscribed(self, driver, master_info):
        with self.lock:
            self.subscriptions += 1
            count = self.subscriptions
        # pymesos hands over the master it connected to as hostname/port.
        info = master_info or {}
        say({
            "event": "subscribed",
            "framework_id": driver.framework_id,
            "master": "%s:%s" % (info.get("hostname"), info.get("port")),
            "count": count,
        })
        driver.reconcileTasks([])

    def registered(self, driver, framework_id, master_info):
        self._subscribed(driver, master_info)

    def reregistered(self, driver, master_info):
        self._subscribed(driver, master_info)

    def resourceOffers(self, driver, offers):
        with self.lock:
            for offer in offers:
                if self.launched >= self.tasks:
                    driver.declineOffer(offer.id, filters={"refuse_seconds": 3600})
                    continue
                name, value = self.marker.split("=", 1)
                task = Dict()
                task.task_id.value = "ha-task-%d" % self.launched
                task.agent_id.value = offer.agent_id.value
                task.name = task.task_id.value
                task.command.value = "sleep 600"
                task.command.environment.variables = [dict(name=name, value=value)]
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                driver.launchTasks(offer.id, [task])
                self.launched += 1
                say({"event": "launched", "task_id": task.task_id.value})

    def statusUpdate(self, driver, update):
        say({
            "event": "update",
            "task_id": update.task_id.value,
            "state": update.state,
            "reason": update.get("reason"),
            "subscription": self.subscriptions,
            "reconciliation": self.reconciliations,
        })

    def reconcile(self, driver):
        with self.lock:
            self.reconciliations += 1
            count = self.reconciliations
        say({"event": "reconciling", "count": count})
        driver.reconcileTasks([])

    def error(self, driver, message):
        say({"event": "error", "message": message})


def main():
    zk, tasks, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos ha"
    framework.hostname = "localhost"
    framework.failover_timeout = 3600
    sched = HaScheduler(tasks, marker)
    driver = MesosSchedulerDriver(sched, framework, zk, use_addict=True)
    driver.start()
    for line in sys.stdin:
        if line.strip() == "reconcile":
            sched.reconcile(driver)
    driver.join()


if __name__ == "__main__":
    main()
