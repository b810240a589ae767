"""A pymesos scheduler that runs one task on a custom executor written with
pymesos's MesosExecutorDriver (executor.py); checks updates and framework
messages both ways. Prints a JSON summary."""
import base64
import json
import os
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler, encode_data, decode_data

HERE = os.path.dirname(os.path.abspath(__file__))


class ExecScheduler(Scheduler):
    def __init__(self):
        self.launched = False
        self.updates = []
        self.messages = []
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            task = Dict()
            task.task_id.value = "py-task"
            task.agent_id.value = offer.agent_id.value
            task.name = "py-task"
            task.data = encode_data(b"payload-from-scheduler")
            task.executor.executor_id.value = "py-executor"
            task.executor.name = "pymesos test executor"
            task.executor.command.value = "%s %s" % (sys.executable, os.path.join(HERE, "executor.py"))
            task.executor.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32}),
            ]
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32}),
            ]
            driver.launchTasks(offer.id, [task])
            self.launched = True
            driver.suppressOffers()

    def statusUpdate(self, driver, update):
        self.updates.append({"state": update.state, "message": update.message or "", "source": update.source or ""})
        if update.state == "TASK_RUNNING":
            executor_id = update.executor_id if update.executor_id else {"value": "py-executor"}
            driver.sendFrameworkMessage(executor_id, update.agent_id, encode_data(b"ping"))
        if update.state in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"):
            self.done.set()

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        self.messages.append(decode_data(message).decode())


def main():
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos executor test"
    sched = ExecScheduler()
    driver = MesosSchedulerDriver(sched, framework, sys.argv[1], use_addict=True)
    driver.start()
    ok = sched.done.wait(90)
    driver.stop()
    driver.join()
    print(json.dumps({"updates": sched.updates, "messages": sched.messages, "completed": ok}))


if __name__ == "__main__":
    main()
