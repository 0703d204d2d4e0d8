#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Stowage contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: image_store_info
short_description: What a Docker Engine's image stores hold, and which one it runs
version_added: "0.1.0"
description:
  - Reads, with Stowage's C(stowctl facts) on the managed host, the engine's name and version,
    the image store it runs (C(classic) or C(containerd)) and its snapshotter, how many images
    each store holds, how many containers there are, and which of Stowage's known-issue checks
    need action.
  - Changes nothing; runs in check mode as well.
  - An engine that does not answer does not fail the task. I(facts.reachable) is then false and
    I(facts.error) says why.
  - Needs C(stowctl) >= 0.1.0 on the managed host (Stowage's C(.deb)). An older one is named
    as such.
author:
  - Stowage contributors
requirements:
  - Python 3 on the managed host (standard library only).
  - Stowage's C(stowctl) >= 0.1.0 on the managed host.
extends_documentation_fragment:
  - stowage.docker.stowctl
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode as otherwise.
  diff_mode:
    support: none
seealso:
  - module: stowage.docker.image_store
"""

EXAMPLES = r"""
- name: Which store does each engine run?
  stowage.docker.image_store_info:
  register: store
  become: true

- name: Say so
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ store.facts.active_store }} ({{ store.facts.images.classic }} classic images)"

- name: Only hosts still on the classic store
  ansible.builtin.group_by:
    key: "store_{{ store.facts.active_store }}"
"""

RETURN = r"""
facts:
  description: What C(stowctl facts) reports (its C(--json) document).
  returned: always
  type: dict
  contains:
    engine:
      description: The engine's name, as C(stowctl engines) lists it on the host.
      type: str
      sample: system
    stowctl:
      description: The version of the C(stowctl) that gathered them.
      type: str
      sample: 0.1.0
    reachable:
      description: Whether the engine answers. When it does not, the task still succeeds and I(error) says why.
      type: bool
      sample: true
    engine_version:
      description: Docker Engine's version.
      type: str
      sample: 26.1.5+dfsg1
    active_store:
      description: The image store the engine runs, C(classic) or C(containerd) (C(null) when it does not answer).
      type: str
      sample: classic
    snapshotter:
      description: The containerd store's snapshotter, when the engine runs that store.
      type: str
      sample: overlayfs
    graphdriver:
      description: The classic store's graph driver, when the engine runs that store.
      type: str
      sample: overlay2
    images:
      description: Images per store (C(null) for a store that cannot be read now).
      type: dict
      sample: {classic: 12, containerd: 0}
    containers:
      description: Containers of the engine (all states).
      type: int
      sample: 3
    containers_running:
      description: Containers running.
      type: int
      sample: 1
    checks_needing_action:
      description: Ids of Stowage's known-issue checks that need action (warnings and failures).
      type: list
      elements: str
      sample: []
    error:
      description: Why something is missing (the engine does not answer, ...).
      type: str
stowctl_version:
  description: The version of C(stowctl) on the host.
  returned: always
  type: str
  sample: 0.1.0
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowage.docker.plugins.module_utils.stowctl import (
    COMMON_ARGUMENTS,
    fail_on_error,
    fail_on_protocol,
    run_wire,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(COMMON_ARGUMENTS),
        supports_check_mode=True,
    )
    run = run_wire(module, module.params["stowctl"], module.params["engine"], ["facts"])
    fail_on_protocol(module, run, "facts")
    if run.error is not None or run.result is None:
        fail_on_error(module, run, "reading the engine's facts")
    # An engine that does not answer is a fact too (stowctl exits 69 with the document):
    # reachable=false and the reason, for the play to decide.
    module.exit_json(changed=False, facts=run.result, stowctl_version=run.version)


if __name__ == "__main__":
    main()
