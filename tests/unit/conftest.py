"""Make the collection importable as ansible_collections.onprem.ha_lamp for the unit tests.

/work/main/.collections/ansible_collections/onprem/ha_lamp links back to the repository, the
same layout ansible.cfg's collections_path gives Ansible at run time.
"""

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
