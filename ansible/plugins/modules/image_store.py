#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Stowage contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: image_store
short_description: Switch a Docker Engine between its classic and containerd image stores
version_added: "0.1.0"
description:
  - Makes the Docker Engine on the managed host run the image store asked for, with Stowage's
    C(stowctl) on that host. It edits C(daemon.json) (keeping every other setting and the file's
    layout), validates it with C(dockerd --validate), restarts the engine the way it is run
    (C(systemctl restart docker) for the packaged unit), verifies the store the engine reports,
    and rolls back to the previous C(daemon.json) when any step fails.
  - Idempotent. It first asks C(stowctl) for the plan (C(--dry-run)); when the plan neither
    changes C(daemon.json) nor restarts the engine the task reports C(changed=false) and does
    nothing else.
  - A switch that fails and is rolled back fails the task, so that a play with C(serial) and
    C(max_fail_percentage=0) stops before the next hosts. The rollback's cause, the engine's
    last log lines and the store it runs afterwards are in the result.
  - Needs C(stowctl) >= 0.1.0 on the managed host (Stowage's C(.deb)), the version that speaks
    the wire protocol (C(stowctl --wire)). An older one is named as such.
  - Changing the system engine needs root on the managed host (C(become) or C(remote_user=root)).
author:
  - Stowage contributors
requirements:
  - Python 3 on the managed host (standard library only).
  - Stowage's C(stowctl) >= 0.1.0 on the managed host.
options:
  state:
    description:
      - The image store the engine should run.
      - C(classic) is the engine's own graph drivers (C(overlay2)); C(containerd) is the
        containerd image store (C(features.containerd-snapshotter) in C(daemon.json)).
    type: str
    required: true
    choices: [classic, containerd]
  snapshotter:
    description:
      - The containerd store's snapshotter (C(overlayfs), C(native), C(stargz), ...); see
        C(stowctl store snapshotters) on the host. Only with I(state=containerd).
    type: str
  bring_projects:
    description:
      - Compose projects of the store being left to bring across. Their images are migrated,
        the store is switched, and each project is started again with
        C(docker compose up -d --no-build).
      - C([all]) for every project, or project names.
    type: list
    elements: str
  leave_stopped:
    description:
      - Leave the containers the restart stops stopped. By default Stowage starts them again
        once the engine is back on their store (unless the engine restarts them itself).
    type: bool
    default: false
extends_documentation_fragment:
  - stowage.docker.stowctl
attributes:
  check_mode:
    support: full
    description: Only the plan (C(stowctl store use --dry-run)) is made; nothing is written or restarted.
  diff_mode:
    support: full
    description: The C(daemon.json) before and after the switch.
notes:
  - The engine restarts when the store changes, stopping its running containers for the
    restart (listed in I(plan.stopping) in check mode).
  - Images and containers of the store left stay on disk but are hidden while the other store
    runs; switching back shows them again.
seealso:
  - module: stowage.docker.image_store_info
"""

EXAMPLES = r"""
- name: The containerd image store
  stowage.docker.image_store:
    state: containerd
  become: true

- name: The containerd image store with the stargz snapshotter, bringing two projects along
  stowage.docker.image_store:
    state: containerd
    snapshotter: stargz
    bring_projects: [shop, blog]
  become: true

- name: Back to the classic store, leaving the stopped containers stopped
  stowage.docker.image_store:
    state: classic
    leave_stopped: true
  become: true

- name: What would change (run the play with --check --diff)
  stowage.docker.image_store:
    state: containerd
  check_mode: true
  diff: true
  register: plan

- name: A rootless engine, by the name stowctl gives it
  stowage.docker.image_store:
    state: containerd
    engine: rootless
    stowctl: /usr/bin/stowctl
"""

RETURN = r"""
changed:
  description: Whether C(daemon.json) was (or in check mode, would be) changed or the engine restarted.
  returned: always
  type: bool
store:
  description: The store asked for (I(state)).
  returned: always
  type: str
  sample: containerd
previous_store:
  description: The store the engine ran before (C(null) when the engine did not answer).
  returned: always
  type: str
  sample: classic
active_store:
  description: The store the engine runs at the end (in check mode, still the current one).
  returned: always
  type: str
  sample: containerd
config_file:
  description: The engine's C(daemon.json).
  returned: always
  type: str
  sample: /etc/docker/daemon.json
stowctl_version:
  description: The version of C(stowctl) on the host.
  returned: always
  type: str
  sample: 0.1.0
plan:
  description:
    - The plan C(stowctl store use --dry-run) made (Stowage's C(Plan)), with C(diff),
      C(daemon_json_before), C(daemon_json_after), C(restart), C(restart_description), C(blocked),
      C(findings), C(current_store), C(target_store), C(hidden), C(stopping), C(space) and more.
  returned: always
  type: dict
outcome:
  description:
    - How applying ended (Stowage's C(Outcome)), with C(outcome) (C(applied), C(unchanged),
      C(rolled_back) or C(failed)), C(active_store), C(stages) with timings, C(error),
      C(daemon_log), C(backup) (the previous C(daemon.json)) and C(started_again).
  returned: when applied (not in check mode, and the plan changed something)
  type: dict
  sample:
    outcome: applied
    active_store: containerd
    stages: [{stage: validate, ms: 120}, {stage: restart, ms: 850}]
    error: null
    daemon_log: []
    backup: /etc/docker/daemon.json.stowage-20260101T000000.bak
diff:
  description: C(daemon.json) before and after, with I(--diff).
  returned: in diff mode, when it changes
  type: dict
error:
  description: Why the switch failed or was rolled back (stowctl's words).
  returned: failed
  type: str
daemon_log:
  description: The engine's last log lines when the switch failed.
  returned: failed
  type: list
  elements: str
rc:
  description: The exit code of C(stowctl) (0 ok, 1 failed or blocked, 3 rolled back, 64 invalid request, 69 unreachable, 77 permission denied, ...).
  returned: failed
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowage.docker.plugins.module_utils.stowctl import (
    COMMON_ARGUMENTS,
    fail_on_error,
    fail_on_protocol,
    run_wire,
)


def plan_is_noop(plan):
    return not plan.get("diff") and not plan.get("restart")


def blocked_findings(plan):
    """The findings that block the plan: errors the plan does not take care of itself."""
    out = []
    for f in plan.get("findings") or []:
        if isinstance(f, dict) and f.get("severity") == "error" and not f.get("handled_by_plan"):
            out.append("%s (%s)" % (f.get("message"), f.get("id")))
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["classic", "containerd"]),
            snapshotter=dict(type="str"),
            bring_projects=dict(type="list", elements="str"),
            leave_stopped=dict(type="bool", default=False),
            **COMMON_ARGUMENTS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["snapshotter"] and p["state"] != "containerd":
        module.fail_json(msg="snapshotter is a setting of the containerd store: only with state=containerd")
    args = ["store", "use", p["state"], "--yes"]
    if p["snapshotter"]:
        args += ["--snapshotter", p["snapshotter"]]
    if p["bring_projects"]:
        names = [n.strip() for n in p["bring_projects"] if n.strip()]
        bad = [n for n in names if "," in n]
        if bad:
            module.fail_json(msg="bring_projects: a project name has no comma: %s" % ", ".join(bad))
        if names:
            args += ["--bring-projects", ",".join(names)]
    if p["leave_stopped"]:
        args += ["--leave-stopped"]

    # The plan first: what would change, for idempotence, check mode and diff mode alike.
    planned = run_wire(module, p["stowctl"], p["engine"], args + ["--dry-run"])
    fail_on_protocol(module, planned, "store use")
    if planned.error is not None or planned.result is None:
        fail_on_error(module, planned, "planning the switch to the %s store" % p["state"])
    plan = planned.result.get("plan", planned.result)
    result = dict(
        changed=False,
        store=p["state"],
        previous_store=plan.get("current_store"),
        active_store=plan.get("current_store"),
        config_file=plan.get("config_file"),
        stowctl_version=planned.version,
        plan=plan,
    )
    if plan.get("blocked"):
        reasons = blocked_findings(plan)
        module.fail_json(
            msg="Stowage will not switch this engine to the %s store: the plan is blocked%s"
            % (p["state"], (": " + "; ".join(str(r) for r in reasons)) if reasons else ""),
            rc=planned.rc,
            **result
        )
    if plan_is_noop(plan):
        module.exit_json(**result)

    result["changed"] = True
    if module._diff and plan.get("diff"):
        name = plan.get("config_file") or "daemon.json"
        result["diff"] = dict(
            before=plan.get("daemon_json_before") or "",
            after=plan.get("daemon_json_after") or "",
            before_header=name,
            after_header=name,
        )
    if module.check_mode:
        module.exit_json(**result)

    applied = run_wire(module, p["stowctl"], p["engine"], args)
    fail_on_protocol(module, applied, "store use")
    if applied.error is not None or applied.result is None:
        fail_on_error(module, applied, "switching to the %s store" % p["state"])
    outcome = applied.result
    kind = outcome.get("outcome")
    result.update(
        outcome=outcome,
        active_store=outcome.get("active_store"),
        stowctl_version=applied.version or planned.version,
    )
    if kind == "applied" and applied.rc == 0:
        module.exit_json(**result)
    if kind == "unchanged" and applied.rc == 0:
        # Another run got there between the plan and now.
        result["changed"] = False
        result.pop("diff", None)
        module.exit_json(**result)
    if kind == "rolled_back":
        msg = (
            "switching to the %s store failed and Stowage rolled back: %s; the engine runs the %s "
            "store with its previous daemon.json"
            % (p["state"], outcome.get("error") or "the change failed", outcome.get("active_store"))
        )
    else:
        msg = "switching to the %s store failed (%s): %s" % (
            p["state"],
            kind,
            outcome.get("error") or applied.stderr.strip()[-2000:],
        )
    result.update(
        error=outcome.get("error"),
        error_code=outcome.get("error_code"),
        daemon_log=outcome.get("daemon_log") or [],
        rc=applied.rc,
        stderr=applied.stderr,
    )
    module.fail_json(msg=msg, **result)


if __name__ == "__main__":
    main()
