"""Self-checks of the exercises: one module per notebook, and the machinery they share.

    from utils import checks
    checks.check_softmax(softmax)       # prints PASSED, or raises CheckFailed naming the mistake

``core`` holds what every check uses (``Check``, ``rel_error``); ``networks`` the checks' own
NumPy network. No function here has an exercise's signature, so none passes a check as it is
(tools/answers.py tries every function of the student edition on every check); a short wrapper
can, so the grader leaves the references out of the copy a submission runs against
(tools/grade.py, ANSWERS).
"""

from utils.checks import core
from utils.checks.architecture import *  # 04
from utils.checks.comparison import *  # 07
from utils.checks.core import Check, CheckFailed, rel_error
from utils.checks.keras_net import *  # 02
from utils.checks.learning_rate import *  # 05
from utils.checks.numpy_net import *  # 01
from utils.checks.overfitting import *  # 06
from utils.checks.torch_net import *  # 03

core._hint_name_errors()  # in a notebook, a NameError says to run the cells above
