"""An independent red-team attacker on published unmetneed tables (see attacker.py).

Written apart from the protection code: nothing here imports ``unmetneed.disclosure`` or
``unmetneed.linked``. It reads only what is published and rebuilds, from the tables' own
labelled rows, what every published number counts.
"""
