-- The dispensations a message is linked to, shown on the message's page.
CREATE INDEX dispensation_links_by_message ON dispensation_links (finess, message_id);
