"""``python -m tests.zoo``: build (or list) the test-model zoo; see :mod:`tests.zoo.build`."""

from tests.zoo.build import main

raise SystemExit(main())
