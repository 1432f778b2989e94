"""The coordinator's workbench and funnel dashboard (issue 12): FastAPI + Jinja2 pages (zh-CN first, en)
and a JSON API under /api. No Prefect here; the composition root hands it a session factory."""

from dashboard.app import create_app
from dashboard.config import DashboardConfig
from dashboard.security import require_role

__all__ = ["DashboardConfig", "create_app", "require_role"]
