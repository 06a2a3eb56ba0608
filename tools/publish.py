"""Commit the student edition to the student branch (make publish-student).

    python tools/publish.py

1. Refuses when the working tree has uncommitted changes: the edition is built from the files
   on disk, and must be the edition of a commit.
2. Builds the edition (tools/student.py) into a temporary folder.
3. Checks the student branch out into a temporary git worktree, without its files (it is
   created on first use as an *orphan* branch: its history holds student editions only,
   never a solution), replaces its content with the edition and commits it as
   "Student edition of <short sha of HEAD>": one commit per run, even when nothing changed.
4. Removes the worktree and prints the ``git push`` command. It pushes nothing; the current
   branch, the working tree and the index are left as they were.

The branch is ``[tool.course] student_branch`` in pyproject.toml (default ``student``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import colab
import student

ROOT = Path(__file__).resolve().parent.parent


class PublishError(RuntimeError):
    """Publishing cannot go on; the message says why and what to do."""


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def publish(root: Path = ROOT) -> dict:
    """Commit the student edition of ``root``'s HEAD to the student branch; return
    ``{"branch", "commit", "source", "notebooks", "regions"}``."""
    root = Path(root).resolve()
    _, branch = colab.student_setting(root / "pyproject.toml")
    try:
        head = git("rev-parse", "--short", "HEAD", cwd=root)
    except PublishError:
        raise PublishError(f"{root} has no commit yet (or is not a git repository): "
                           "commit the course first") from None
    dirty = git("status", "--porcelain", "--untracked-files=normal", cwd=root)
    if dirty:
        listing = "\n".join("  " + line for line in dirty.splitlines()[:10])
        more = "\n  ..." if len(dirty.splitlines()) > 10 else ""
        raise PublishError("the working tree has uncommitted changes, which would not be in the "
                           f"edition of {head}:\n{listing}{more}\n"
                           "Commit them (or stash them), then run make publish-student again.")
    exists = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                            cwd=root, capture_output=True).returncode == 0
    tmp = Path(tempfile.mkdtemp(prefix="tp-publish-"))
    tree = tmp / "worktree"
    try:
        counts = student.build(tmp / "edition", root)
        if exists:
            git("worktree", "add", "--quiet", "--no-checkout", str(tree), branch, cwd=root)
        else:  # an orphan branch: no history shared with the course, so no solution in it
            git("worktree", "add", "--quiet", "--detach", "--no-checkout", str(tree), "HEAD", cwd=root)
            git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=tree)
        git("read-tree", "--empty", cwd=tree)  # the index starts empty; the edition is all it gets
        for path in tree.iterdir():
            if path.is_dir() and path.name != ".git":
                shutil.rmtree(path)
            elif path.name != ".git":
                path.unlink()
        shutil.copytree(tmp / "edition", tree, dirs_exist_ok=True)
        git("add", "--all", ".", cwd=tree)
        git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", f"Student edition of {head}", cwd=tree)
        commit = git("rev-parse", "--short", "HEAD", cwd=tree)
    finally:
        if tree.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=root, capture_output=True)
    return {"branch": branch, "commit": commit, "source": head, "notebooks": len(counts),
            "regions": sum(counts.values())}


def push_command(root: Path = ROOT) -> str:
    repository, _ = colab.setting(root / "pyproject.toml")
    student_repository, branch = colab.student_setting(root / "pyproject.toml")
    if student_repository == repository:
        return f"git push origin {branch}"
    return f"git push https://github.com/{student_repository}.git {branch}"


def main() -> int:
    try:
        done = publish()
    except (PublishError, student.MarkerError, colab.SettingError, ValueError, FileNotFoundError) as err:
        print(f"student edition not published: {err}", file=sys.stderr)
        return 1
    print(f"Student edition of {done['source']} committed on branch {done['branch']} as {done['commit']} "
          f"({done['notebooks']} notebooks, {done['regions']} solution regions blanked). "
          "Nothing was pushed; to publish it, run:\n"
          f"  {push_command()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
