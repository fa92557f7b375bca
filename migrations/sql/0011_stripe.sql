-- Stripe webhooks: the created time of the last event applied to a subscription (events can
-- arrive out of order), the system path's lookup of a subscription by its Stripe id, and the
-- processed-events record written in the same transaction as the change it dedupes.
ALTER TABLE subscriptions ADD COLUMN stripe_event_at TIMESTAMPTZ;
CREATE UNIQUE INDEX idx_subscriptions_stripe ON subscriptions(stripe_subscription_id) WHERE stripe_subscription_id IS NOT NULL;
GRANT SELECT ON subscriptions TO leadzone_system;
GRANT SELECT, INSERT ON processed_webhook_events TO leadzone_app;
