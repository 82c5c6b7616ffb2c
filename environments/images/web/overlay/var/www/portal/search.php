<?php
require_once __DIR__ . '/lib.php';
$q = $_GET['q'] ?? '';
$items = '';
$n = 0;
if ($q !== '') {
    try {
        // VULNERABLE on purpose: string concatenation into LIKE
        foreach (db()->query("SELECT id, title FROM news WHERE title LIKE '%$q%' OR body LIKE '%$q%'") as $r) {
            $items .= "<li><a href=\"/news.php?id={$r['id']}\">{$r['title']}</a></li>\n";
            $n++;
        }
    } catch (PDOException $e) {
        db_error($e);
    }
}
$found = $n ? "<ul class=\"results\">\n$items</ul>" : "<p>No results.</p>";
page('Search', "<h1>Search</h1>\n<p>Results for <strong>" . htmlspecialchars($q) . "</strong>: $n</p>\n$found");
