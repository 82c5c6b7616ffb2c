set -eu
# local delivery only, logs to the container's stdout, no chroot (no CAP_SYS_CHROOT needed)
postconf -e 'inet_interfaces = all' 'inet_protocols = ipv4' 'relayhost =' 'default_transport = error:no outbound mail' \
    'relay_transport = error:no relaying' 'mynetworks = 127.0.0.0/8' 'maillog_file = /dev/stdout' \
    'smtpd_tls_security_level = none' 'smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)' 'compatibility_level = 3.6'
postconf -F '*/*/chroot = n'
