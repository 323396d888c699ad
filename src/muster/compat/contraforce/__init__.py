"""The ContraForce-compatible APIs: the beta partner API and the v2 API, each a sub-app.

contraforce/
├── beta, v2            sub-application factories (auth, envelope and error format)
├── routes_*            thin routes
├── service, listing,   the facade's work on incidents (services: flush, never commit)
│   bulk
├── objects, gamebooks  pure renderers (incident object, v2 item, entity, comment, gamebook)
├── decisions, windows, pure decisions (status updates, source segments, time windows,
│   paging              page tokens)
└── schemas, envelopes, request bodies, envelopes and request ids, error renderers
    errors, auth        and who is calling
"""

from muster.compat.contraforce.beta import create_beta_app
from muster.compat.contraforce.routes_beta import beta_caller
from muster.compat.contraforce.routes_v2 import workspace_caller
from muster.compat.contraforce.routes_v2_across import account_caller
from muster.compat.contraforce.v2 import create_v2_app

# every route of both sub-apps depends on one of these (they authenticate the API key);
# the route audit (tests/tenancy/test_audit.py) can accept them beside `principal`
AUTH_DEPENDENCIES = (beta_caller, workspace_caller, account_caller)

__all__ = ["AUTH_DEPENDENCIES", "create_beta_app", "create_v2_app"]
