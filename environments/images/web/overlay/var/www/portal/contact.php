<?php
require_once __DIR__ . '/lib.php';
page('Contact', "<h1>Contact</h1>\n<p>Public relations office, open Monday to Friday 8:00-16:00.</p>\n"
     . "<p>E-mail: info@" . htmlspecialchars($DOMAIN) . "</p>");
