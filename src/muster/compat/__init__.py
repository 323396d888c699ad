"""Facades that let clients written for other platforms talk to muster unchanged.

    compat/
    ├── mapping      muster's vocabulary ↔ ContraForce's and Sentinel's (pure, both directions)
    ├── entities     an incident's entities from its alerts, in Sentinel's kinds (pure)
    ├── evidence     an incident's evidence table from its alerts' raw payloads (pure)
    ├── views        what the facades show of an incident, loaded per page (service)
    ├── contraforce  the ContraForce partner (beta) and v2 APIs (sub-applications)
    └── sentinel     the Microsoft Sentinel incidents API (a sub-application)

Each facade is a FastAPI sub-application mounted by `muster.api.app`, with its own
authentication scheme and error format, calling the same services as the native API.
"""
