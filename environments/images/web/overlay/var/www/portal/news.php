<?php
require_once __DIR__ . '/lib.php';
if (!isset($_GET['id'])) {
    $items = '';
    foreach (db()->query("SELECT id, title, published FROM news ORDER BY id") as $r) {
        $items .= "<li><a href=\"/news.php?id={$r['id']}\">{$r['title']}</a> <span class=\"date\">{$r['published']}</span></li>\n";
    }
    page('News', "<h1>News</h1>\n<ul class=\"news-list\">\n$items</ul>");
    exit;
}
try {
    // VULNERABLE on purpose: the id goes into the query as typed
    $row = db()->query("SELECT id, title, body, published FROM news WHERE id = " . $_GET['id'])->fetch();
} catch (PDOException $e) {
    db_error($e);
}
if (!$row) {
    page('Not found', "<h1>Article not found</h1>\n<p>The article you requested does not exist or has been removed.</p>\n"
         . "<p><a href=\"/news.php\">&laquo; All news</a></p>", 404);
    exit;
}
page(strip_tags($row['title']) ?: 'News', "<article class=\"news\">\n<h1>{$row['title']}</h1>\n"
     . "<p class=\"meta\">Published {$row['published']}</p>\n<div class=\"body\">\n{$row['body']}\n</div>\n</article>\n"
     . "<p><a href=\"/news.php\">&laquo; All news</a></p>");
