set -eu
mkdir -p /srv/ftp/pub /var/run/vsftpd/empty
printf 'Office file server. Authorised staff only.\n' > /srv/ftp/pub/README.txt
# shared documents in the staff's home directories, something to download
for u in admin backup ahoxha; do
    [ -d /home/$u ] || continue
    mkdir -p /home/$u/documents
    printf 'Meeting notes %s\n' "$u" > /home/$u/documents/meeting-notes.txt
    chown -R $u:$u /home/$u/documents
done
# telnet through inetd (the package registers it; make sure the line is there)
grep -q '^telnet' /etc/inetd.conf || echo 'telnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/telnetd' >> /etc/inetd.conf
