"""Every sentence true: no measured figure typed into markdown.

The rule (docs/maintainers.md, "Every sentence true"): a measured figure is printed by the code that
measured it, never typed into a markdown cell; a conclusion that depends on the run is printed
from its numbers, or holds in quick and full mode and on both data sets.

A figure *looks measured* when it is one of:

- a decimal with 3 or more significant decimal digits (``0.868``, ``0.9781``, ``1.541``;
  not ``0.01`` or ``1e-4``), or with 2 in a sentence about accuracy, loss or error
  (``a test accuracy of 0.92``; not the softmax example ``(0.09, 0.24, 0.67)``);
- a time: a number followed by a unit of time (``0.35 s``, ``12 ms``, ``4.9 minutes``), the
  number written out too (``half a minute``, ``a few hundred microseconds``);
- a speed-up or ratio: a decimal followed by x, × or "times" (``0.3x``, ``29.7×``), or a whole
  number followed by one of them and a word of speed (``3x faster``; not ``10x larger learning
  rate`` nor ``15 times more data``);
- a percentage with a decimal part (``97.8 %``), above 100 (``116 %``) or not a round setting
  (``83 %``; ``20 %``, ``50 %`` and ``1 %`` are settings);
- an energy or an emission (``0.0042 kWh``, ``3 g CO2eq``).

What is not measured passes without an allowlist: hyper-parameters (``$\\lambda = 0.1$``, batches
of 64, ``1e-4``), LaTeX arithmetic and dimensions (``$28 \\times 28$``, ``$1.2 \\times 10^{-7}$``),
a constant worked out from a formula (``$\\ln 10 \\approx 2.303$``, ``1/\\sqrt{784} \\approx
0.0357``), exact counts (``101,770 parameters``), version numbers (``torch 2.3.1``), URLs.
Text inside ``$...$`` is read like the rest, so ``$0.868$`` is caught too.
Markdown solution regions (the model answers) are read as well.

The few legitimate exceptions left are listed in ``ALLOWED`` with their reason; an entry whose
phrase has gone, or no longer trips the rule, fails the test, so the list cannot rot.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: (notebook, exact phrase, reason): figures that look measured but are not. Keep it short.
ALLOWED: tuple[tuple[str, str, str], ...] = ()

# --- the rule ----------------------------------------------------------------------------------

# A number that is not part of a name, a version or an exponent: 12, 0.35, 1,500.
_NUMBER = r"(?<![\w.,{}^])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_URL = re.compile(r"https?://\S+|\]\([^)]*\)|<[^>]+>")  # URLs, markdown link targets, HTML tags
_VERSION = re.compile(r"\d+(?:\.\d+){2,}")  # 2.13.0, 3.15.1: not a decimal
_DECIMAL = re.compile(r"(?<![\w.{}^])\d+\.(\d+)(?![\d.])")
# A version number: "TensorFlow 2.21", "keras>=3.15", "version 1.26".
_PACKAGE_BEFORE = re.compile(r"(python|numpy|torch|pytorch|tensorflow|keras|pandas|matplotlib|codecarbon|"
                             r"nbval|pytest|cuda|jupyter\w*|version|v)\s*[<>=~!]*\s*$", re.IGNORECASE)
_TIME = re.compile(_NUMBER + r"\s?(ms|µs|μs|s|secs?|seconds?|min|mins|minutes?|hours?|hrs?)(?![\w^])")
_SPELLED = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
            r"fifty|sixty|a hundred|hundreds of|a few hundred|a few thousand|half an?|a quarter of an?")
_SPELLED_TIME = re.compile(rf"\b({_SPELLED})[ -](micro|milli)?(seconds?|minutes?|hours?)\b", re.IGNORECASE)
_RATIO = re.compile(_NUMBER + r"\s?(x|×|\\times|times)(?![\w])\s*\$?\s*(\S{0,20})")
_PERCENT = re.compile(_NUMBER + r"\s?(%|\\%|per ?cent\b)")
_ENERGY = re.compile(_NUMBER + r"(?:e-?\d+)?\s?(kWh|Wh|mWh|(?:k|m)?g\s?CO[2₂](?:eq)?)(?!\w)")
_SPEED_WORDS = re.compile(r"(the |as )?(faster|slower|quicker|speed|fast|slow|long|longer|shorter|"
                          r"less time|more time|time|cheaper|costlier|more energy|less energy|energy)\b",
                          re.IGNORECASE)
# What follows a factor that multiplies something (a dimension, 10^k, a variable), not a speed-up.
_OPERAND = re.compile(r"^(\d|\(|\{|\\|[A-Za-z](?![A-Za-z])|`|\w*_)")
_ABOUT_ACCURACY = re.compile(r"accura|loss|error", re.IGNORECASE)
# A value worked out from a formula: "<formula> ≈ 0.0357" with a root, a log, pi, e^ or a fraction.
_RELATION_BEFORE = re.compile(r"(≈|\\approx|=)\s*\$?\s*$")
_FORMULA = re.compile(r"sqrt|√|\\ln|\bln\b|\\log|\blog\b|\\pi|π|\be\^|\\exp|\\frac|\\tfrac|/")


def _clean(text: str) -> str:
    """``text`` without what is not prose: URLs, link targets, HTML tags, version numbers."""
    text = _URL.sub(" ", text)
    return _VERSION.sub("VERSION", text)


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence (or table row, or line of a list) around ``text[start:end]``."""
    left = max(text.rfind(". ", 0, start), text.rfind("\n\n", 0, start), text.rfind("|", 0, start),
               text.rfind("\n-", 0, start))
    right = min([i for i in (text.find(". ", end), text.find("\n\n", end), text.find("|", end)) if i >= 0]
                or [len(text)])
    return text[left + 1:right]


def _is_constant(text: str, start: int) -> bool:
    """True when the number at ``start`` is the value of a formula written just before it."""
    before = text[max(0, start - 50):start]
    relation = _RELATION_BEFORE.search(before)
    return bool(relation) and bool(_FORMULA.search(before[:relation.start()][-30:]))


def _snippet(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 30):min(len(text), end + 20)].split())


def measured_figures(text: str) -> list[str]:
    """The figures of a markdown ``text`` that look measured, each with some context."""
    text = _clean(text)
    found: list[tuple[int, int]] = []
    for m in _DECIMAL.finditer(text):
        digits = len(m.group(1).lstrip("0"))
        if _is_constant(text, m.start()) or _PACKAGE_BEFORE.search(text[max(0, m.start() - 30):m.start()]):
            continue
        if digits >= 3 or (digits == 2 and _ABOUT_ACCURACY.search(_sentence(text, m.start(), m.end()))):
            found.append(m.span())
    for m in _TIME.finditer(text):
        value, unit = m.group(1), m.group(2)
        if unit == "s" and m.group(0)[len(value)] != " " and len(value) == 4:  # the 1990s
            continue
        found.append(m.span())
    found += [m.span() for m in _SPELLED_TIME.finditer(text)]
    for m in _RATIO.finditer(text):
        value, after = m.group(1), m.group(3)
        if _OPERAND.match(after):  # 28 × 28, 1.2 \times 10^{-7}, 784 × n_hidden
            continue
        if "." in value or _SPEED_WORDS.match(text[m.end(2):].lstrip(" $")):
            found.append((m.start(), m.end(2)))
    for m in _PERCENT.finditer(text):
        value = float(m.group(1).replace(",", ""))
        if "." in m.group(1) or value > 100 or (value > 2 and value % 5):
            found.append(m.span())
    for m in _ENERGY.finditer(text):
        found.append(m.span())
    found = sorted(set(found))
    return [_snippet(text, start, end) for start, end in found]


# --- the notebooks -----------------------------------------------------------------------------


def _markdown_cells(path: Path):
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            yield cell.get("id", "?"), "".join(cell["source"])


def _allowed_in(notebook: str) -> list[str]:
    return [phrase for name, phrase, _ in ALLOWED if name == notebook]


def violations(path: Path) -> list[str]:
    """``cell id: text`` for each measured-looking figure in the markdown of ``path``, less ``ALLOWED``."""
    out = []
    for cell_id, source in _markdown_cells(path):
        for phrase in _allowed_in(path.name):
            source = source.replace(phrase, " ")
        out += [f"{cell_id}: ...{figure}..." for figure in measured_figures(source)]
    return out


def test_the_rule_catches_each_kind_of_measured_figure():
    measured = [
        "The network reaches 0.868 accuracy on the test set.",
        "Keras reaches $0.868$ against $0.877$ for NumPy.",
        "a test accuracy of 0.92 after 10 epochs",
        "One epoch took 0.35 s on this machine.",
        "about 12 ms per step",
        "the full run lasts 4.9 minutes",
        "training took 3 min",
        "the study lasts 1,500 s",
        "an epoch takes about half a minute",
        "a step costs a few hundred microseconds",
        "NumPy needs 2.5 times as long",
        "Keras takes 3x the time of PyTorch",
        "the two accuracies $(0.868,0.877)$",
        "Batches of 256 run 0.3x faster.",
        "PyTorch is 29.7× faster than NumPy",
        "Keras is 3x slower here",
        "a $2.5\\times$ speed-up",
        "the time grows by 116 %",
        "it reaches 97.8% test accuracy",
        "an error rate of 83 %",
        "the run used 0.0042 kWh and 1.3 g CO2eq",
        "the loss falls to 0.3922",
        "| 784-256-10 | 0.9210 | 4.4 s |",
    ]
    for text in measured:
        assert measured_figures(text), f"missed: {text!r}"
    assert len(measured_figures("0.868 in 0.35 s, 0.3x faster, 116 %")) == 4


def test_the_rule_lets_what_is_not_measured_pass():
    legitimate = [
        "mini-batch SGD, $\\lambda = 0.1$, batches of 64, 10 epochs",
        "learning rates 0.01, 0.5 and 5; Adam(1e-3); weight decay 1e-4",
        "`keras.optimizers.Adam(1e-3)` and `momentum=0.9`",
        "For $(1, 2, 3)$ the right probabilities, about $(0.09, 0.24, 0.67)$.",
        "machine epsilon is $1.2 \\times 10^{-7}$, about $1.8 \\times 10^{308} \\approx e^{709.8}$",
        "a loss near $\\ln 10 \\approx 2.303$ at the start",
        "weights of standard deviation $1/\\sqrt{784} \\approx 0.0357$",
        "each 28×28 image, a 53×80 image, $28 \\times 28 = 784$, `W0` is 784 × n_hidden",
        "$(D \\times 784)\\,(784 \\times N)$ and 64 x 784 x 256 multiply-adds",
        "$784 \\cdot 64 + 64 + 64 \\cdot 32 + 32 + 32 \\cdot 10 + 10 = 52{,}650$ and 101,770 parameters",
        "52.6 k parameters; section 3.4; ### 3.1 Early stopping",
        "TensorFlow 2.21, torch 2.13.0, Keras 3.15.1, Python 3.13, in 2026",
        "Keras 3.15 changed the loss API; keras>=3.10 computes the same accuracy",
        "we flip 20 % of the labels; compared with 80 %; 1 % of the data; 100 %",
        "Give the sigmoid network a 10x larger learning rate",
        "within one point (0.01) of the best mean; about 0.5 at the start",
        "[badge](https://colab.research.google.com/github/x/y/blob/main/notebooks/02_a.ipynb)",
        "in the 1990s; the 12 epochs of the lecture; 60,000 images",
        "the second layer; one epoch; 15 times more data; ten epochs",
    ]
    for text in legitimate:
        assert not measured_figures(text), f"flagged: {text!r} -> {measured_figures(text)}"


def test_a_violation_names_its_cell_and_text_and_solution_regions_are_read(tmp_path, monkeypatch):
    cells = [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["Batches of 64.\n"]},
             {"cell_type": "markdown", "id": "answer", "metadata": {},
              "source": ["Why?\n", "### BEGIN SOLUTION\n", "Keras took 0.35 s per epoch.\n",
                         "### END SOLUTION\n"]},
             {"cell_type": "code", "id": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": ["# 0.868 in a code cell is printed, not typed\n"]}]
    notebook = tmp_path / "99_example.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (found,) = violations(notebook)
    assert found.startswith("answer: ") and "0.35 s" in found
    monkeypatch.setitem(globals(), "ALLOWED", (("99_example.ipynb", "took 0.35 s", "a test"),))
    assert violations(notebook) == []


def test_every_allowed_phrase_is_still_there_and_still_needed():
    names = {p.name for p in NOTEBOOKS}
    for notebook, phrase, reason in ALLOWED:
        assert notebook in names, f"ALLOWED names {notebook}, which is not in notebooks/"
        assert reason.strip(), f"ALLOWED entry for {phrase!r} gives no reason"
        sources = [source for _, source in _markdown_cells(ROOT / "notebooks" / notebook)]
        assert any(phrase in source for source in sources), \
            f"{notebook}: the allowed phrase {phrase!r} no longer occurs: remove it from ALLOWED"
        assert measured_figures(phrase), \
            f"{notebook}: the allowed phrase {phrase!r} no longer trips the rule: remove it from ALLOWED"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_measured_figure_in_markdown(path):
    found = violations(path)
    assert not found, (
        f"{path.name}: measured-looking figures in markdown (print them from the code that measured "
        "them, or write a sentence that holds in quick and full mode and on both data sets):\n  "
        + "\n  ".join(found))
