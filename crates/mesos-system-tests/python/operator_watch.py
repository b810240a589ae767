"""pymesos's unmodified MesosOperatorMasterDriver subscribes to the master's
operator event stream while a pymesos scheduler runs one task and tears
itself down; the synchronous calls pymesos wraps are made too. Prints a
JSON summary of what the operator heard."""
import json
import logging
import sys
import threading

from addict import Dict
from pymesos import MesosOperatorMasterDriver, MesosSchedulerDriver, OperatorMaster, Scheduler

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}


class Watcher(OperatorMaster):
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()
        self.task_ended = threading.Event()
        self.framework_removed = threading.Event()

    def _add(self, kind, detail):
        with self.lock:
            self.events.append([kind, detail])

    def taskAdded(self, task_info):
        self._add("TASK_ADDED", {"task_id": task_info["task_id"]["value"], "state": task_info["state"]})

    def taskUpdated(self, task_info):
        self._add("TASK_UPDATED", {"task_id": task_info["status"]["task_id"]["value"], "state": task_info["state"]})
        if task_info["state"] in TERMINAL:
            self.task_ended.set()

    def frameworkAdded(self, framework_info):
        self._add("FRAMEWORK_ADDED", {"name": framework_info["framework_info"]["name"]})

    def frameworkUpdated(self, framework_info):
        self._add("FRAMEWORK_UPDATED", {"name": framework_info["framework_info"]["name"]})

    def frameworkRemoved(self, framework_info):
        self._add("FRAMEWORK_REMOVED", {"name": framework_info["name"]})
        self.framework_removed.set()

    def agentAdded(self, agent_info):
        self._add("AGENT_ADDED", {"id": agent_info["agent_info"]["id"]["value"]})

    def agentRemoved(self, agent_id):
        self._add("AGENT_REMOVED", {"id": agent_id})


class Subscribed(logging.Handler):
    """The driver logs SUBSCRIBED (it has no callback for it)."""

    def __init__(self):
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record):
        if "Operator client subscribed" in record.getMessage():
            self.seen.set()


class OneTask(Scheduler):
    def __init__(self):
        self.launched = False

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            task = Dict()
            task.task_id.value = "watched-task"
            task.agent_id.value = offer.agent_id.value
            task.name = "watched-task"
            task.command.value = "true"
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32}),
            ]
            driver.launchTasks(offer.id, [task])
            self.launched = True


def main():
    master = sys.argv[1]
    subscribed = Subscribed()
    log = logging.getLogger("pymesos.operator_v1")
    log.setLevel(logging.INFO)
    log.addHandler(subscribed)

    watcher = Watcher()
    operator = MesosOperatorMasterDriver(master, watcher)
    operator.start()
    ok = subscribed.seen.wait(30)

    framework = Dict()
    framework.user = "root"
    framework.name = "watched"
    framework.hostname = "localhost"
    sched = MesosSchedulerDriver(OneTask(), framework, master, use_addict=True)
    sched.start()
    ended = watcher.task_ended.wait(60)
    sched.stop()  # not a failover: the framework is torn down
    sched.join()
    removed = watcher.framework_removed.wait(30)

    calls = {}
    for name in ["getHealth", "getVersion", "getState", "getAgents", "getFrameworks",
                 "getTasks", "getRoles", "getWeights", "getMaster", "getFlags"]:
        calls[name] = getattr(operator, name)()
    operator.stop()
    with watcher.lock:
        events = list(watcher.events)
    print(json.dumps({
        "subscribed": ok,
        "task_ended": ended,
        "framework_removed": removed,
        "events": events,
        "calls": calls,
    }))


if __name__ == "__main__":
    main()
