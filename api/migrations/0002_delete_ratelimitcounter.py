from django.db import migrations


class Migration(migrations.Migration):
    # The rate-limit counters moved to core (core 0001); a one-minute window is all they ever held.

    dependencies = [
        ("api", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="RateLimitCounter"),
    ]
