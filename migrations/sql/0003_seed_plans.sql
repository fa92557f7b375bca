-- The four plans (prices in halalas; -1 = unlimited). Re-running keeps the rows current.
INSERT INTO plans (id, name, name_ar, description, price_monthly, price_yearly,
                   seats_limit, leads_limit, searches_limit, messages_limit, features, is_active, sort_order)
VALUES
  ('free', 'Free', 'مجاني', 'For trying Leadzone out', 0, 0, 3, 100, 10, 50,
   '["export"]', TRUE, 0),
  ('starter', 'Starter', 'المبتدئ', 'For small sales teams', 19900, 199000, 5, 2000, 200, 1000,
   '["export", "whatsapp_bulk"]', TRUE, 1),
  ('pro', 'Pro', 'الاحترافي', 'For growing sales teams', 49900, 499000, 15, 10000, 1000, 10000,
   '["export", "whatsapp_bulk", "ai_reports", "integrations", "outbound_webhooks"]', TRUE, 2),
  ('enterprise', 'Enterprise', 'المؤسسات', 'For large organisations', 199900, 1999000, -1, -1, -1, -1,
   '["export", "whatsapp_bulk", "ai_reports", "integrations", "outbound_webhooks", "priority_support"]', TRUE, 3)
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name, name_ar = EXCLUDED.name_ar, description = EXCLUDED.description,
  price_monthly = EXCLUDED.price_monthly, price_yearly = EXCLUDED.price_yearly,
  seats_limit = EXCLUDED.seats_limit, leads_limit = EXCLUDED.leads_limit,
  searches_limit = EXCLUDED.searches_limit, messages_limit = EXCLUDED.messages_limit,
  features = EXCLUDED.features, is_active = EXCLUDED.is_active, sort_order = EXCLUDED.sort_order,
  updated_at = NOW();
