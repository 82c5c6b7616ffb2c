set -eu
mkdir -p /var/lib/portal /var/www/portal/uploads
php /tmp/cr-recipe/web/init-db.php /var/lib/portal/portal.db
chown -R www-data:www-data /var/lib/portal /var/www/portal/uploads
chmod 0775 /var/www/portal/uploads
# the app prints its own database errors; upload limit as the form promises
sed -i 's/^upload_max_filesize = .*/upload_max_filesize = 8M/; s/^expose_php = .*/expose_php = On/' /etc/php/*/fpm/php.ini
sed -i 's|^;\?error_log = .*|error_log = /proc/self/fd/2|' /etc/php/*/fpm/php-fpm.conf
rm -f /etc/nginx/sites-enabled/default && ln -s ../sites-available/portal /etc/nginx/sites-enabled/portal
rm -rf /var/www/html
# logs are opened by nginx's root master, which has no CAP_DAC_OVERRIDE: let it create them
rm -f /var/log/nginx/*.log
