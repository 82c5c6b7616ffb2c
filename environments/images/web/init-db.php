<?php
// Build time: the portal's SQLite database (news, staff users, documents).
$db = new PDO('sqlite:' . $argv[1]);
$db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$db->exec("CREATE TABLE news (id INTEGER PRIMARY KEY, title TEXT, lead TEXT, body TEXT, published TEXT)");
$db->exec("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, password TEXT, fullname TEXT, email TEXT, role TEXT)");
$db->exec("CREATE TABLE documents (id INTEGER PRIMARY KEY, file TEXT, title TEXT)");
$articles = [
  ["Public consultation on the 2027 state budget", "The draft budget for 2027 is open for public comment until the end of the month."],
  ["New e-services for citizens and businesses", "Twelve administrative procedures can now be completed online through the portal."],
  ["Minister meets EU delegation on accession chapters", "Talks focused on public administration reform and the rule of law."],
  ["Call for applications: civil service internships", "Graduates under 27 may apply for six-month internships in central institutions."],
  ["Procurement notice: office equipment framework", "Bidders must submit tenders through the electronic procurement system."],
  ["Working hours during the national holidays", "Front offices will be closed on 28 and 29 November; e-services remain available."],
  ["Annual report on administrative performance published", "The report covers service delivery times, staffing and digitalisation."],
  ["Cybersecurity awareness month: protect your accounts", "Staff are reminded to use strong passwords and to report suspicious e-mails."],
  ["Regional cooperation agreement signed in Skopje", "The agreement covers data exchange between civil registries of the region."],
  ["Open data: new datasets on public spending", "Monthly spending by budget line is now available in machine-readable form."],
];
$filler = "The ministry invites all interested parties to take part in the process. Further information is available "
        . "from the public relations office during working hours. Documents referred to in this notice can be downloaded "
        . "from the Documents section.";
$st = $db->prepare("INSERT INTO news (id, title, lead, body, published) VALUES (?, ?, ?, ?, ?)");
foreach ($articles as $i => [$t, $lead]) {
    $n = $i + 1;
    $st->execute([$n, $t, $lead, "<p>$lead</p>\n<p>$filler</p>", sprintf("2026-11-%02d", 1 + ($n * 7) % 27)]);
}
$users = [
  ["admin", "admin123", "Portal Administrator", "admin@portal.local", "admin"],
  ["editor", "editor2024", "Arben Hoxha", "a.hoxha@portal.local", "editor"],
  ["mkrasniqi", "Prishtina2025!", "Mimoza Krasniqi", "m.krasniqi@portal.local", "editor"],
  ["webmaster", "Welcome1", "Web Master", "webmaster@portal.local", "admin"],
  ["jdoe", "qwerty", "John Doe", "j.doe@portal.local", "viewer"],
];
$st = $db->prepare("INSERT INTO users (username, password, fullname, email, role) VALUES (?, ?, ?, ?, ?)");
foreach ($users as [$u, $p, $f, $e, $r]) { $st->execute([$u, md5($p), $f, $e, $r]); }
$st = $db->prepare("INSERT INTO documents (file, title) VALUES (?, ?)");
foreach ([["circular-2026-14.pdf", "Circular 14/2026 on working hours"], ["budget-draft-2027.pdf", "Draft state budget 2027"],
          ["annual-report-2025.pdf", "Annual report 2025"]] as [$f, $t]) { $st->execute([$f, $t]); }
