<?php
require_once __DIR__ . '/config.php';

function db(): PDO {
    global $DB_PATH;
    static $db = null;
    if ($db === null) {
        $db = new PDO('sqlite:' . $DB_PATH);
        $db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
    }
    return $db;
}

function page(string $title, string $content, int $status = 200): void {
    global $SITE_NAME;
    http_response_code($status);
    $nav = '';
    foreach ([['/index.php', 'Home'], ['/news.php', 'News'], ['/docs.php', 'Documents'], ['/search.php', 'Search'],
              ['/contact.php', 'Contact'], ['/login.php', 'Staff login']] as [$u, $t]) {
        $nav .= "<li><a href=\"$u\">$t</a></li>";
    }
    $t = htmlspecialchars($title);
    echo "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       . "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       . "<title>$t | $SITE_NAME</title>\n<link rel=\"stylesheet\" href=\"/assets/css/main.css?v=3.2.1\">\n"
       . "</head>\n<body>\n<header class=\"site-header\">\n"
       . "<a class=\"brand\" href=\"/index.php\">$SITE_NAME</a>\n<nav><ul>$nav</ul></nav>\n"
       . "<form class=\"search\" action=\"/search.php\" method=\"get\"><input type=\"text\" name=\"q\" "
       . "placeholder=\"Search the portal\"><button type=\"submit\">Search</button></form>\n"
       . "</header>\n<main class=\"container\">\n$content\n</main>\n<footer class=\"site-footer\">\n"
       . "<p>&copy; 2026 $SITE_NAME. All rights reserved. | <a href=\"/contact.php\">Contact</a></p>\n"
       . "</footer>\n</body>\n</html>\n";
}

function db_error(PDOException $e): void {
    // display of errors on: the message goes to the visitor, as on the real portal
    page('Error', '<div class="alert alert-danger"><strong>Database error:</strong> '
         . htmlspecialchars($e->getMessage()) . '</div>', 500);
    exit;
}
