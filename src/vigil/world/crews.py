"""Crews: the organisation behind mule rings and account takeovers, when a typology has one.

Without a crew (the default world) every incident brings its own freshly opened accounts and
its own new phones, so each incident stands alone and its accounts give themselves away. With
a :class:`~vigil.world.config.Crew`, a few crews run all the incidents of a typology, each from
a small pool of its own phones, through accounts rented from ordinary customers. One incident
then looks ordinary one payment at a time; what ties it to the crew's earlier, already
reported incidents is the phones, which is the premise of the graph layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.world.config import Crew
from vigil.world.events import US_PER_HOUR, WALLET, IncidentRows
from vigil.world.population import Population
from vigil.world.sampling import Toolkit, between, new_devices


@dataclass(frozen=True, slots=True)
class Gang:
    """The crews of one typology's ``n`` incidents: who runs which incident, from where."""

    crew: Crew
    of_incident: np.ndarray  #: crew of each incident
    country: np.ndarray  #: country of each crew
    phones: np.ndarray  #: (crews, crew.phones) device ids
    addresses: np.ndarray  #: (crews, crew.phones) the local address each phone is used from

    @classmethod
    def of(cls, crew: Crew, n: int, tk: Toolkit, rng: np.random.Generator) -> Gang:
        crews = max(1, round(n / crew.incidents))
        weights = tk.country_weights()
        country = rng.choice(len(weights), crews, p=weights)
        phones = new_devices(rng, crews * crew.phones).reshape(crews, crew.phones)
        addresses = tk.ips.draw(rng, np.repeat(country, crew.phones)).reshape(phones.shape)
        return cls(crew, rng.integers(0, crews, n), country, phones, addresses)

    @property
    def incident_country(self) -> np.ndarray:
        return self.country[self.of_incident]

    def sessions(
        self,
        rng: np.random.Generator,
        incident: np.ndarray,
        rank: np.ndarray,
        per_incident: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Phone and address for sessions of ``incident`` with the given ``rank``: each
        incident uses ``per_incident`` consecutive phones of its crew's pool, from a random
        one on, and the session of rank k the ``k % per_incident``-th of those."""
        first = rng.integers(0, self.crew.phones, len(per_incident))
        slot = (first[incident] + rank % per_incident[incident]) % self.crew.phones
        crew = self.of_incident[incident]
        return self.phones[crew, slot], self.addresses[crew, slot]

    def check(
        self,
        rows: IncidentRows,
        pop: Population,
        tk: Toolkit,
        rng: np.random.Generator,
        incident: np.ndarray,
        accounts: np.ndarray,
        first_use: np.ndarray,
    ) -> None:
        """Each rented account's test: a small online purchase from one of the crew's phones,
        hours to days before the account's first use."""
        crew = self.of_incident[incident]
        slot = rng.integers(0, self.crew.phones, len(accounts))
        country = pop.country[accounts]
        lead = (between(rng, self.crew.check_hours, len(accounts)) * US_PER_HOUR).astype(np.int64)
        when = np.minimum(tk.clock.waking(first_use - lead, country), first_use - US_PER_HOUR)
        shop = pop.merchants(pop.codes_of_group("online")).draw(rng, country)
        rows.add(
            incident,
            when,
            accounts,
            shop,
            tk.money.minor_units(between(rng, self.crew.check_usd, len(accounts)), country),
            WALLET,
            device=self.phones[crew, slot],
            ip=self.addresses[crew, slot],
            mcc=pop.mcc_code[pop.mcc[shop]],
        )
