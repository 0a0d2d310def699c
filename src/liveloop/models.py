"""Every domain's tables in one import, for Alembic and for tests that build the schema."""

from liveloop.analytics import models as analytics_models
from liveloop.analytics.attribution import models as attribution_models
from liveloop.analytics.cohorts import models as cohort_models
from liveloop.analytics.funnels import models as funnel_models
from liveloop.analytics.realtime import models as realtime_models
from liveloop.catalog import models as catalog_models
from liveloop.commerce import models as commerce_models
from liveloop.commerce.affiliates import models as affiliate_models
from liveloop.commerce.assist import models as assist_models
from liveloop.commerce.coupons import models as coupon_models
from liveloop.commerce.flash import models as flash_models
from liveloop.commerce.groupbuy import models as groupbuy_models
from liveloop.commerce.payments import models as payment_models
from liveloop.core.database import Base
from liveloop.customers import models as customer_models
from liveloop.customers.channel_codes import models as channel_code_models
from liveloop.customers.communities import models as community_models
from liveloop.customers.fission import models as fission_models
from liveloop.customers.phone_codes import models as phone_code_models
from liveloop.customers.points import models as points_models
from liveloop.customers.rfm import models as rfm_models
from liveloop.customers.segments import models as segment_models
from liveloop.customers.tagrules import models as tagrule_models
from liveloop.events import models as event_models
from liveloop.live import models as live_models
from liveloop.live.lottery import models as lottery_models
from liveloop.live.mic import models as mic_models
from liveloop.live.polls import models as polls_models
from liveloop.live.redpackets import models as redpackets_models
from liveloop.live.servicechat import models as servicechat_models
from liveloop.live.welfare import models as welfare_models
from liveloop.outreach.broadcasts import models as broadcast_models
from liveloop.outreach.channels import models as channel_models
from liveloop.outreach.consent import models as consent_models
from liveloop.outreach.messages import models as message_models
from liveloop.outreach.scripts import models as scripts_models
from liveloop.shops import models as shop_models

__all__ = [
    "Base",
    "affiliate_models",
    "analytics_models",
    "assist_models",
    "attribution_models",
    "broadcast_models",
    "catalog_models",
    "channel_code_models",
    "channel_models",
    "cohort_models",
    "commerce_models",
    "community_models",
    "consent_models",
    "coupon_models",
    "customer_models",
    "event_models",
    "fission_models",
    "flash_models",
    "funnel_models",
    "groupbuy_models",
    "live_models",
    "lottery_models",
    "message_models",
    "mic_models",
    "payment_models",
    "phone_code_models",
    "points_models",
    "polls_models",
    "realtime_models",
    "redpackets_models",
    "rfm_models",
    "scripts_models",
    "segment_models",
    "servicechat_models",
    "shop_models",
    "tagrule_models",
    "welfare_models",
]
