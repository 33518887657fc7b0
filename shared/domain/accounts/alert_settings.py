"""An account's low-balance thresholds as the API reads and writes them (the alerts themselves: shared.domain.
alerts)."""

from __future__ import annotations

from shared.domain.store import AlertStore
from shared.models.api import AlertsView
from shared.models.items import AlertSettings


def alerts_view(alerts: AlertSettings | None) -> AlertsView:
    alerts = alerts or AlertSettings()
    return AlertsView(credits_below=alerts.credits_below, counts_below=alerts.counts_below)


def get_alerts(store: AlertStore, account_id: str) -> AlertsView:
    return alerts_view(store.get_alerts(account_id))


def put_alerts(store: AlertStore, account_id: str, request: AlertsView) -> AlertsView:
    alerts = AlertSettings(credits_below=request.credits_below, counts_below=request.counts_below)
    store.put_alerts(account_id, alerts)
    return alerts_view(alerts)
