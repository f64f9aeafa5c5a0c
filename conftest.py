"""What every test process shares: one keyring key per test session (lrs_platform.keyring, decision 0080).

Services started in-process read it from the environment, and the ones started as processes inherit it,
so every service of a test system opens the same learners' keys.
"""

import os

from lrs_platform.keyring import KEYRING_KEY_VARIABLE, KeyringKey

os.environ.setdefault(KEYRING_KEY_VARIABLE, KeyringKey.generate().encoded())
