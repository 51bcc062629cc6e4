"""Shared helpers of the playbook-level tests (imported as `from conftest import ...`)."""
import os
import shutil
import sys


def ansible_playbook():
    """ansible-playbook next to the running interpreter (the venv), else on PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return candidate if os.path.exists(candidate) else shutil.which("ansible-playbook")
