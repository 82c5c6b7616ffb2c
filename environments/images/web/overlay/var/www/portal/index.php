<?php
require_once __DIR__ . '/lib.php';
$cards = '';
foreach (db()->query("SELECT id, title, lead FROM news ORDER BY id LIMIT 4") as $r) {
    $cards .= "<div class=\"card\"><h3><a href=\"/news.php?id={$r['id']}\">{$r['title']}</a></h3><p>{$r['lead']}</p></div>\n";
}
page('Home', "<section class=\"hero\"><h1>$SITE_NAME</h1><p>Information and e-services for citizens, businesses "
     . "and public institutions.</p></section>\n<section class=\"cards\">\n$cards</section>");
