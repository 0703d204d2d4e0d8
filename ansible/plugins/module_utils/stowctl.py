# -*- coding: utf-8 -*-
# Copyright: Stowage contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""Running ``stowctl --wire`` on the managed host and reading its lines.

The wire protocol (protocol 1), as ``stowctl --wire <command> ...`` writes it on stdout, one
compact JSON object per line, each with one key::

    {"hello": {"protocol": 1, "stowctl": "<version>"}}      always first
    {"progress": {...}}   {"waiting": {...}}               zero or more
    {"result": {...}}     or   {"error": {"code": "...", "message": "..."}}   last

Exit codes: 0 ok, 1 failed or blocked, 3 rolled back, 64 invalid request, 65 invalid config,
66 engine not found, 69 engine (or host) unreachable, 70 command failed, 74 I/O, 75 busy,
76 validation failed or protocol mismatch, 77 permission denied, 79 timeout.

Pure Python 3 standard library: this runs on the managed host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

# The options every module has (documented in plugins/doc_fragments/stowctl.py).
COMMON_ARGUMENTS = dict(
    engine=dict(type="str"),
    stowctl=dict(type="path", default="stowctl"),
)

# The first stowctl that speaks the wire protocol (and has `facts`).
MIN_STOWCTL_VERSION = "0.1.0"
# The protocol this collection reads; a newer writer's unknown kinds of lines are skipped.
PROTOCOL = 1

EXIT_CODES = {
    0: "ok",
    1: "failed",
    3: "rolled_back",
    64: "invalid_request",
    65: "invalid_config",
    66: "engine_not_found",
    69: "unreachable",
    70: "command_failed",
    74: "io",
    75: "busy",
    76: "validation_failed",
    77: "permission_denied",
    79: "timeout",
}

TOO_OLD = (
    "stowctl on this host is too old for the Ansible collection; "
    "install Stowage's .deb >= %s" % MIN_STOWCTL_VERSION
)


class WireRun(object):
    """One ``stowctl --wire`` run: its hello, live lines, and how it ended."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout or ""
        self.stderr = stderr or ""
        self.hello = None
        self.progress = []
        self.waiting = []
        self.result = None
        self.error = None
        self.unreadable = []
        self.first_line = None
        self._read()

    def _read(self):
        for text in self.stdout.splitlines():
            text = text.strip()
            if not text:
                continue
            try:
                line = json.loads(text)
            except ValueError:
                line = None
            if self.first_line is None:
                self.first_line = text
                if isinstance(line, dict) and isinstance(line.get("hello"), dict):
                    self.hello = line["hello"]
                    continue
                # No hello first: not this protocol; nothing after it is trusted.
                return
            if not isinstance(line, dict) or len(line) != 1:
                self.unreadable.append(text)
                continue
            kind, value = next(iter(line.items()))
            if kind == "progress":
                self.progress.append(value)
            elif kind == "waiting":
                self.waiting.append(value)
            elif kind == "result":
                self.result = value
            elif kind == "error" and isinstance(value, dict):
                self.error = value
            # A second hello, or a kind of line a newer stowctl added: skipped.

    @property
    def version(self):
        return (self.hello or {}).get("stowctl")

    def too_old(self):
        """Whether this stowctl predates the wire protocol (or the command asked for)."""
        if self.hello is None:
            said = self.stderr + "\n" + (self.first_line or "")
            if "--wire" in said and ("unexpected argument" in said or "unrecognized" in said):
                return True
            # clap's usage errors exit 2 (old clap set-ups) or 64 (stowctl's own mapping).
            return self.rc in (2, 64) and "--wire" in said
        err = self.error or {}
        message = err.get("message") or ""
        return err.get("code") == "invalid_request" and (
            "unrecognized subcommand" in message or "unexpected argument" in message
        )

    def summary(self):
        """What to hand back on failure: the run's facts, for the task's output."""
        return dict(
            rc=self.rc,
            cmd=self.argv,
            stowctl_version=self.version,
            error=self.error,
            stderr=self.stderr,
            stderr_lines=self.stderr.splitlines(),
            exit_meaning=EXIT_CODES.get(self.rc, "unknown"),
        )


def find_stowctl(module, stowctl):
    """The stowctl to run: a path as given, a bare name looked up on PATH and the usual dirs."""
    if os.sep in stowctl:
        if not os.access(stowctl, os.X_OK):
            module.fail_json(
                msg="stowctl is not installed at %s on this host; install Stowage's .deb >= %s"
                % (stowctl, MIN_STOWCTL_VERSION),
                rc=127,
            )
        return stowctl
    found = module.get_bin_path(stowctl, opt_dirs=["/usr/local/bin", "/usr/bin"])
    if not found:
        module.fail_json(
            msg="stowctl is not installed on this host (no `%s` on PATH); install Stowage's .deb >= %s"
            % (stowctl, MIN_STOWCTL_VERSION),
            rc=127,
        )
    return found


def run_wire(module, stowctl, engine, command):
    """Runs ``stowctl --wire [--engine E] <command...>`` and reads its lines."""
    argv = [find_stowctl(module, stowctl), "--wire"]
    if engine:
        argv += ["--engine", engine]
    argv += list(command)
    rc, stdout, stderr = module.run_command(
        argv,
        check_rc=False,
        # Never a prompt: stowctl asks for confirmation only on a terminal, and --yes is given
        # for changes anyway.
        data=None,
        environ_update={"LC_ALL": "C.UTF-8", "NO_COLOR": "1"},
    )
    return WireRun(argv, rc, stdout, stderr)


def fail_on_protocol(module, run, what):
    """Fails the task when the run did not speak the protocol (old or missing stowctl)."""
    if run.too_old():
        detail = ""
        if run.version:
            detail = " (it is stowctl %s and has no `%s`)" % (run.version, what)
        module.fail_json(msg=TOO_OLD + detail, **run.summary())
    if run.hello is None:
        module.fail_json(
            msg="stowctl on this host does not speak Stowage's wire protocol (first line: %r); "
            "install Stowage's .deb >= %s" % (run.first_line, MIN_STOWCTL_VERSION),
            **run.summary()
        )
    protocol = run.hello.get("protocol")
    if not isinstance(protocol, int) or protocol < PROTOCOL:
        module.fail_json(
            msg="stowctl %s on this host speaks wire protocol %r; this collection reads protocol %d: %s"
            % (run.version, protocol, PROTOCOL, TOO_OLD),
            **run.summary()
        )


def fail_on_error(module, run, doing):
    """Fails the task with stowctl's own error line, or with its exit code when it wrote none."""
    if run.error is not None:
        module.fail_json(
            msg="%s: stowctl: %s (%s)"
            % (doing, run.error.get("message"), run.error.get("code")),
            **run.summary()
        )
    if run.result is None:
        module.fail_json(
            msg="%s: stowctl exited %d (%s) without a result: %s"
            % (doing, run.rc, EXIT_CODES.get(run.rc, "unknown"), run.stderr.strip()[-2000:]),
            **run.summary()
        )
