"""term_when_exists.py FILE OUT [--meanwhile SHELL-COMMAND] CMD...: runs CMD
with its output to OUT; as soon as FILE exists (polled every 10 ms, at most
600 s: a loaded machine may take minutes to compile) runs SHELL-COMMAND, if given, printing its output and status, then
sends CMD SIGTERM, waits for it and prints its exit status as `sh` would
("exit 143")."""
import os
import signal
import subprocess
import sys
import time

path, out, command = sys.argv[1], sys.argv[2], sys.argv[3:]
meanwhile = None
if command[:1] == ["--meanwhile"]:
    meanwhile, command = command[1], command[2:]
with open(out, "w") as log:
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while not os.path.exists(path) and child.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if not os.path.exists(path):
        print("timeout: %s never appeared" % path)
    elif meanwhile and child.poll() is None:
        other = subprocess.run(meanwhile, shell=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        print(other.stdout + "meanwhile exit %d" % other.returncode)
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    status = child.wait()
print("exit %d" % (128 - status if status < 0 else status))
