import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts import permissions
from accounts.models import Membership
from accounts.permissions import Action
from accounts.tests.factories import OrganizationFactory, UserFactory, member
from catalog.models import Product
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_scope_limits_products_to_the_users_brands():
    brand_a, brand_b = OrganizationFactory(), OrganizationFactory()
    host = member(brand_a)
    mine = ProductFactory(organization=brand_a)
    ProductFactory(organization=brand_b)

    assert list(permissions.scope(Product.objects.all(), host)) == [mine]


def test_user_in_two_brands_sees_both():
    brand_a, brand_b = OrganizationFactory(), OrganizationFactory()
    user = member(brand_a)
    Membership.objects.create(user=user, organization=brand_b, role=Membership.Role.MODERATOR)
    ProductFactory(organization=brand_a)
    ProductFactory(organization=brand_b)

    assert permissions.scope(Product.objects.all(), user).count() == 2
    # ...but may edit only where the role allows it.
    assert permissions.scope(Product.objects.all(), user, Action.EDIT_CATALOG).count() == 1


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (Membership.Role.OWNER, Action.DELETE_CATALOG, True),
        (Membership.Role.HOST, Action.HOST_EVENT, True),
        (Membership.Role.HOST, Action.DELETE_CATALOG, False),
        (Membership.Role.HOST, Action.MANAGE_MEMBERS, False),
        (Membership.Role.MODERATOR, Action.EDIT_CATALOG, False),
        (Membership.Role.MODERATOR, Action.VIEW, True),
    ],
)
def test_roles_grant_their_actions(role, action, allowed):
    brand = OrganizationFactory()
    user = member(brand, role=role)
    product = ProductFactory(organization=brand)

    assert permissions.can(user, action, product) is allowed


def test_another_brands_product_is_404_not_403():
    brand_a, brand_b = OrganizationFactory(), OrganizationFactory()
    host = member(brand_a)
    theirs = ProductFactory(organization=brand_b)

    with pytest.raises(Http404):
        permissions.get_for_user_or_404(Product.objects.all(), host, pk=theirs.pk)


def test_visible_but_forbidden_action_is_403():
    brand = OrganizationFactory()
    moderator = member(brand, role=Membership.Role.MODERATOR)
    product = ProductFactory(organization=brand)

    with pytest.raises(PermissionDenied):
        permissions.get_for_user_or_404(Product.objects.all(), moderator, Action.EDIT_CATALOG, pk=product.pk)


def test_inactive_and_anonymous_users_have_no_brands():
    from django.contrib.auth.models import AnonymousUser

    brand = OrganizationFactory()
    user = member(brand)
    user.is_active = False
    ProductFactory(organization=brand)

    assert permissions.scope(Product.objects.all(), user).count() == 0
    assert permissions.scope(Product.objects.all(), AnonymousUser()).count() == 0


def test_superuser_sees_everything():
    ProductFactory()
    ProductFactory()
    admin = UserFactory(is_superuser=True)

    assert permissions.scope(Product.objects.all(), admin).count() == 2
