"""The classic pymesos tutorial framework, unmodified API use: launch N
"Hello World + mkdir" command tasks from offers, decline the rest, suppress
when done, rely on implicit acknowledgements. Prints a JSON summary."""
import json
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}


class HelloScheduler(Scheduler):
    def __init__(self, count):
        self.count = count
        self.launched = 0
        self.states = {}
        self.offers_seen = 0
        self.suppressed = False
        self.framework_id = None
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        self.framework_id = framework_id["value"]

    def resourceOffers(self, driver, offers):
        for offer in offers:
            self.offers_seen += 1
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while self.launched < self.count and cpus >= 0.1 and mem >= 32:
                tid = "hello-%d" % self.launched
                task = Dict()
                task.task_id.value = tid
                task.agent_id.value = offer.agent_id.value
                task.name = tid
                task.command.value = "echo Hello, World from %s && mkdir -p made-%s && test -d made-%s" % (tid, tid, tid)
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                tasks.append(task)
                self.launched += 1
                cpus -= 0.1
                mem -= 32
            if tasks:
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 5})
        if self.launched >= self.count and not self.suppressed:
            driver.suppressOffers()
            self.suppressed = True

    def statusUpdate(self, driver, update):
        self.states.setdefault(update.task_id.value, []).append(update.state)
        finished = [t for t, s in self.states.items() if s[-1] in TERMINAL]
        if len(finished) == self.count:
            self.done.set()


def main():
    master, count = sys.argv[1], int(sys.argv[2])
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos hello world"
    framework.hostname = "localhost"
    sched = HelloScheduler(count)
    driver = MesosSchedulerDriver(sched, framework, master, use_addict=True)
    driver.start()
    ok = sched.done.wait(90)
    driver.stop()
    driver.join()
    print(json.dumps({
        "framework_id": sched.framework_id,
        "states": sched.states,
        "offers_seen": sched.offers_seen,
        "suppressed": sched.suppressed,
        "completed": ok,
    }))


if __name__ == "__main__":
    main()
