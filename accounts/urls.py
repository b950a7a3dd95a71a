from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import studio, throttle, views
from accounts.forms import LoginForm

urlpatterns = [
    path(
        "login/",
        throttle.too_many_requests(
            views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True)
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signin/", views.SignInLinkView.as_view(), name="sign-in-link"),
    path("signup/", views.SignUpView.as_view(), name="sign-up"),
    path("studio/brand/", studio.BrandSettingsView.as_view(), name="brand-settings"),
]
