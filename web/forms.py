"""Forms for signing in and managing an account, drawn with GOV.UK Frontend widgets.

Every form here is a Flask-WTF ``FlaskForm``, so it carries a CSRF token. Error messages follow
the GOV.UK Design System's wording: say what to do, in plain words.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from web.services.passwords import MIN_PASSWORD_LENGTH

NEW_PASSWORD_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters. Three or four words you will remember work well."
)


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter your email address"),
            Length(max=320, message="Email address must be 320 characters or fewer"),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message="Enter your password"),
            Length(max=256, message="Password must be 256 characters or fewer"),
        ],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class SecondFactorForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        description="The 6-digit code, for example 123456",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter the 6-digit code from your authenticator app"),
            Regexp(
                r"^\s*\d{3}\s*\d{3}\s*$",
                message="The code must be 6 digits, like 123456",
            ),
        ],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter your current password")],
    )
    new_password = PasswordField(
        "New password",
        description=NEW_PASSWORD_HINT,
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter a new password")],
    )
    confirm_password = PasswordField(
        "Type your new password again",
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message="Type your new password again"),
            EqualTo("new_password", message="The two new passwords must be the same"),
        ],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        "Email address",
        description="The email address you sign in with",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter your email address"),
            Length(max=320, message="Email address must be 320 characters or fewer"),
        ],
    )
    submit = SubmitField("Send me a link", widget=GovSubmitInput())


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        description=NEW_PASSWORD_HINT,
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message="Enter a new password"),
            Length(max=256, message="Password must be 256 characters or fewer"),
        ],
    )
    confirm_password = PasswordField(
        "Type your new password again",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Type your new password again")],
    )
    submit = SubmitField("Set my new password", widget=GovSubmitInput())


class NotificationSettingsForm(FlaskForm):
    # Drawn as radios by the template (account/notifications.html); the service checks it.
    channel = StringField("How do you want us to tell you things?")
    phone = StringField(
        "Mobile number (for texts)",
        description="A UK mobile number, like 07700 900123",
        widget=GovTextInput(),
        validators=[Length(max=32, message="Mobile number must be 32 characters or fewer")],
    )
    postal_address = TextAreaField(
        "Address (for letters)",
        description="Your house and street, your town, and your postcode, each on its own line",
        widget=GovTextArea(),
        validators=[Length(max=700, message="Address must be 700 characters or fewer")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""

    submit = SubmitField("Continue", widget=GovSubmitInput())
