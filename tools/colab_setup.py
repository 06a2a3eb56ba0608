"""The second half of every notebook's Colab setup cell (tools/colab.py writes the first half).

The cell clones the course into /content/tp-deep-learning (again, when a clone is incomplete),
then runs this file in the notebook's own kernel: it installs the course in editable mode without
dependencies (Colab has them), lets the running kernel see the install, moves into notebooks/ and
installs CodeCarbon when Colab lacks it (without it the course runs, with no energy figures). It
prints one line. The student edition ships this file too (tools/student.py).
"""

import importlib.util
import os
import site
import subprocess
import sys


def setup(course: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", course],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install -e {course} failed: {(done.stderr or '').strip()[-1500:]}")
    for folder in site.getsitepackages():  # let this running kernel see the install
        site.addsitedir(folder)
    os.chdir(os.path.join(course, "notebooks"))
    did = [f"installed the course from {course}"]
    if importlib.util.find_spec("codecarbon") is not None:
        did.append("CodeCarbon already there")
    else:
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "codecarbon"],
                             capture_output=True, text=True)
        if pip.returncode == 0:
            did.append("installed CodeCarbon")
        else:
            why = (pip.stderr or "").strip().splitlines()[-1:] or [f"pip exit status {pip.returncode}"]
            did.append(f"CodeCarbon could not be installed ({why[0]}): no energy figures")
    print("Colab: " + ", ".join(did) + ".")


if __name__ == "__main__":  # run by the setup cell (runpy), in the notebook's kernel
    setup(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
