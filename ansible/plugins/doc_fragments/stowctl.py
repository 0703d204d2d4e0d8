# -*- coding: utf-8 -*-
# Copyright: Stowage contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The options every module of the collection has: which engine, and which stowctl."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  engine:
    description:
      - The engine to act on, by name (see C(stowctl engines) on the host); passed as
        C(--engine). By default the engine Stowage finds (the system engine).
    type: str
  stowctl:
    description:
      - The C(stowctl) to run on the managed host, a path or a name looked up on C(PATH),
        C(/usr/local/bin) and C(/usr/bin).
    type: path
    default: stowctl
"""
