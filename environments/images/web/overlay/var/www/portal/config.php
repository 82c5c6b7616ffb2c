<?php
// Portal configuration. (Yes, the database password sits here in clear: the portal was
// migrated from MariaDB to SQLite and nobody cleaned up.)
$site = @parse_ini_file('/etc/cyberrange/site.ini') ?: [];
$DOMAIN = $site['domain'] ?? 'gov.example';
$label = explode('.', $DOMAIN)[0];
$SITE_NAME = $label === 'ministry' ? 'Ministry Portal' : 'Ministry of ' . ucfirst($label);
$DB_PATH = '/var/lib/portal/portal.db';
$DB_USER = 'portal';
$DB_PASS = 'P0rtal!2024';
$UPLOAD_DIR = __DIR__ . '/uploads/';
