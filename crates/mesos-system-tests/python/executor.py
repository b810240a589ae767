"""A custom executor on pymesos's MesosExecutorDriver: runs the task in a
thread, echoes the task data back as a framework message, answers a
scheduler message, and finishes the task."""
import threading
import time

from addict import Dict
from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data


class PyExecutor(Executor):
    def launchTask(self, driver, task):
        def run():
            update = Dict()
            update.task_id.value = task.task_id.value
            update.state = "TASK_RUNNING"
            update.timestamp = time.time()
            driver.sendStatusUpdate(update)
            driver.sendFrameworkMessage(encode_data(b"data:" + decode_data(task.data)))
            self.got_ping.wait(30)
            update = Dict()
            update.task_id.value = task.task_id.value
            update.state = "TASK_FINISHED"
            update.message = "pymesos executor done"
            update.timestamp = time.time()
            driver.sendStatusUpdate(update)

        threading.Thread(target=run, daemon=True).start()

    def frameworkMessage(self, driver, message):
        if decode_data(message) == b"ping":
            driver.sendFrameworkMessage(encode_data(b"pong"))
            self.got_ping.set()


if __name__ == "__main__":
    ex = PyExecutor()
    ex.got_ping = threading.Event()
    MesosExecutorDriver(ex, use_addict=True).run()
