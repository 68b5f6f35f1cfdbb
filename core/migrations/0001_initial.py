from django.db import migrations, models


class Migration(migrations.Migration):
    # The counters moved here from api (api 0002 drops its table); they live one minute, so
    # none is carried over.

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="RateLimitCounter",
            fields=[
                ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("count", models.PositiveIntegerField()),
                ("window_ends_at", models.FloatField(help_text="Unix time at which this window's count starts over.")),
            ],
        ),
    ]
