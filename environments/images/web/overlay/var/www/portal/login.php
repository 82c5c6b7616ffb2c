<?php
require_once __DIR__ . '/lib.php';
session_start();
$error = '';
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $u = $_POST['username'] ?? '';
    $p = $_POST['password'] ?? '';
    try {
        // VULNERABLE on purpose: ' OR 1=1 -- logs in as the first user
        $row = db()->query("SELECT id, username, fullname, role FROM users WHERE username = '$u' AND password = '"
                           . md5($p) . "'")->fetch();
    } catch (PDOException $e) {
        db_error($e);
    }
    if ($row) {
        $_SESSION['user'] = $row;
        header('Location: ' . ($_POST['return'] ?? '/dashboard.php'), true, 302);
        exit;
    }
    $error = '<div class="alert alert-danger">Invalid username or password.</div>' . "\n";
}
page('Staff login', "<h1>Staff login</h1>\n$error<form action=\"/login.php\" method=\"post\">\n"
     . "<label>Username <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n"
     . "<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n"
     . "<input type=\"hidden\" name=\"return\" value=\"/dashboard.php\">\n<button type=\"submit\">Log in</button>\n</form>");
