"""Self-checks of the exercises: one module per notebook, and the machinery they share.

    from utils import checks
    checks.check_softmax(softmax)       # prints PASSED, or raises CheckFailed naming the mistake

``core`` holds what every check uses (``Check``, ``rel_error``, ``numerical_gradient``);
the references the checks compare with live in ``utils.reference`` and in each
module, for instructors and for the curious.
"""

from utils.checks import core
from utils.checks.architecture import *  # 04
from utils.checks.comparison import *  # 07
from utils.checks.core import Check, CheckFailed, numerical_gradient, rel_error
from utils.checks.keras_net import *  # 02
from utils.checks.learning_rate import *  # 05
from utils.checks.numpy_net import *  # 01
from utils.checks.overfitting import *  # 06
from utils.checks.torch_net import *  # 03

core._hint_name_errors()  # in a notebook, a NameError says to run the cells above
