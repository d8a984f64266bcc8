"""term_when_exists.py FILE OUT CMD...: runs CMD with its output to OUT,
sends it SIGTERM as soon as FILE exists (polled every 10 ms, at most 120 s),
waits for it and prints its exit status, as `sh` would ("exit 143")."""
import os
import signal
import subprocess
import sys
import time

path, out, command = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "w") as log:
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not os.path.exists(path) and child.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    status = child.wait()
print("exit %d" % (128 - status if status < 0 else status))
