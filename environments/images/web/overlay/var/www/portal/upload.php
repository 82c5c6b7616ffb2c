<?php
require_once __DIR__ . '/lib.php';
$notice = '';
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $f = $_FILES['document'] ?? (count($_FILES) ? reset($_FILES) : null);
    // VULNERABLE on purpose: no check of type or extension; the file lands where PHP runs
    if ($f && $f['error'] === UPLOAD_ERR_OK) {
        $name = basename($f['name']);
        if (move_uploaded_file($f['tmp_name'], $UPLOAD_DIR . $name)) {
            $notice = "<div class=\"alert alert-success\">File uploaded: <a href=\"/uploads/" . rawurlencode($name) . "\">"
                    . htmlspecialchars($name) . "</a></div>\n";
        } else {
            $notice = "<div class=\"alert alert-danger\">The file could not be stored.</div>\n";
        }
    } else {
        $notice = "<div class=\"alert alert-danger\">No file received.</div>\n";
    }
}
page('Submit a document', "<h1>Submit a document</h1>\n$notice"
     . "<p>Attach scanned supporting documents for your request (JPG, PNG or PDF, up to 5 MB).</p>\n"
     . "<form action=\"/upload.php\" method=\"post\" enctype=\"multipart/form-data\">\n"
     . "<label>Reference number <input type=\"text\" name=\"reference\"></label>\n"
     . "<label>File <input type=\"file\" name=\"document\"></label>\n"
     . "<button type=\"submit\" name=\"submit\" value=\"Upload\">Upload</button>\n</form>");
