<?php
require_once __DIR__ . '/lib.php';
$rows = '';
foreach (db()->query("SELECT file, title FROM documents ORDER BY id") as $r) {
    $ext = strtoupper(pathinfo($r['file'], PATHINFO_EXTENSION));
    $rows .= "<tr><td><a href=\"/files/{$r['file']}\">{$r['title']}</a></td><td>$ext</td></tr>\n";
}
page('Documents', "<h1>Documents</h1>\n<table class=\"docs\">\n<tr><th>Title</th><th>Format</th></tr>\n$rows</table>");
