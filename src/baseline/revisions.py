"""Revisions of a system under test kept in a git repository: refs resolved to commits, the working tree (with its
uncommitted changes) as a commit of its own, and a checkout of each in a worktree of its own.

A/B runs build each side from its own worktree, so neither side is the folder being edited while it is measured.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baseline.errors import BadInput, Failure

WORKING_TREE = "WORKTREE"  # the ref that names the working tree, uncommitted changes included


@dataclass(frozen=True, kw_only=True)
class Revision:
    """What was asked for (`ref`) and what it is (`commit`); `dirty` when it holds uncommitted changes."""

    ref: str
    commit: str
    dirty: bool = False
    subject: str = ""
    repository: str = ""  # the repository the commit is in

    @property
    def short(self) -> str:
        """The name a folder or a report uses: 12 hex digits, `-dirty` for a working tree with changes."""
        return self.commit[:12] + ("-dirty" if self.dirty else "")

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "short": self.short}


def git(root: Path, *args: str) -> str:
    """`git -C root ARGS`' output; a failure is bad input naming the command and what git said."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise BadInput("git is not installed; A/B runs build their sides from git worktrees") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise BadInput(f"`git {' '.join(args)}` failed in {root}: {said[-1] if said else done.returncode}")
    return done.stdout.strip()


def _subject(root: Path, commit: str) -> str:
    return git(root, "log", "-1", "--format=%s", commit)


def resolve(root: Path, ref: str) -> Revision:
    """A ref (branch, tag, sha, `HEAD~2`, or WORKTREE) as the commit it names."""
    if ref == WORKING_TREE:
        return working_tree(root)
    try:
        commit = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except BadInput:
        raise BadInput(f"{ref!r} names no commit in {root}; give a branch, tag or commit (or {WORKING_TREE})") from None
    return Revision(ref=ref, commit=commit, subject=_subject(root, commit), repository=str(root))


def working_tree(root: Path) -> Revision:
    """The working tree: HEAD when it is clean, else a commit of its tracked changes (`git stash create`), kept
    reachable under refs/baseline/ so it outlives this run. Untracked files are not part of it."""
    dirty = bool(git(root, "status", "--porcelain", "--untracked-files=no"))
    if not dirty:
        head = git(root, "rev-parse", "HEAD")
        return Revision(ref=WORKING_TREE, commit=head, subject=_subject(root, head), repository=str(root))
    commit = git(root, "stash", "create", "baseline: the working tree as measured")
    git(root, "update-ref", f"refs/baseline/worktree-{commit[:12]}", commit)
    return Revision(
        ref=WORKING_TREE,
        commit=commit,
        dirty=True,
        subject="working tree with uncommitted changes",
        repository=str(root),
    )


def default_branch(root: Path) -> str | None:
    """origin's default branch if known, else a local main or master."""
    try:
        return git(root, "symbolic-ref", "--short", "refs/remotes/origin/HEAD")
    except BadInput:
        pass
    for name in ("main", "master"):
        try:
            git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}")
            return name
        except BadInput:
            continue
    return None


def merge_base(root: Path) -> Revision:
    """Where HEAD left the default branch: the natural base of a change under review."""
    branch = default_branch(root)
    if branch is None:
        raise BadInput(f"no default branch (origin/HEAD, main or master) in {root}: give --base REF")
    commit = git(root, "merge-base", "HEAD", branch)
    return Revision(ref=f"merge-base({branch})", commit=commit, subject=_subject(root, commit), repository=str(root))


def from_public(data: dict[str, Any]) -> Revision:
    return Revision(**{k: v for k, v in data.items() if k in Revision.__dataclass_fields__})


def checkout(root: Path, revision: Revision, path: Path) -> Path:
    """A detached worktree of the revision at `path` (reused when it already holds that commit)."""
    if (path / ".git").exists():
        at = git(path, "rev-parse", "HEAD")
        if at == revision.commit:
            return path
        raise Failure(f"{path} holds commit {at[:12]}, not {revision.short}; remove it (`git worktree remove {path}`)")
    path.parent.mkdir(parents=True, exist_ok=True)
    git(root, "worktree", "add", "--detach", "--force", str(path), revision.commit)
    return path
