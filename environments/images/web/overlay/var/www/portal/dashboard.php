<?php
require_once __DIR__ . '/lib.php';
session_start();
if (empty($_SESSION['user'])) { header('Location: /login.php', true, 302); exit; }
$u = $_SESSION['user'];
page('Dashboard', "<h1>Welcome, " . htmlspecialchars($u['fullname']) . "</h1>\n<p>Role: {$u['role']}</p>\n"
     . "<ul><li><a href=\"/upload.php\">Submit a document</a></li><li><a href=\"/docs.php\">Documents</a></li></ul>");
