"""Imports every domain's models so that Base.metadata knows all tables (Alembic, tests)."""

from app.accounts import models as accounts_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.billing import models as billing_models  # noqa: F401
from app.core import audit, idempotency  # noqa: F401
from app.entitlements import models as entitlement_models  # noqa: F401
from app.exports import models as export_models  # noqa: F401
from app.fulfillment import models as fulfillment_models  # noqa: F401
from app.mall import models as mall_models  # noqa: F401
from app.members import models as member_models  # noqa: F401
from app.notifications import models as notification_models  # noqa: F401
from app.orders import models as order_models  # noqa: F401
from app.partners import models as partner_models  # noqa: F401
from app.supply import models as supply_models  # noqa: F401
from app.webhooks import models as webhook_models  # noqa: F401
