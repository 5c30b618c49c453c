import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { ServiceToken } from '@gatehouse/sdk';

/**
 * The kernel's DI: tsyringe, keyed by the sdk's string token ids, registered with values or
 * factories (never by emitted constructor metadata). Registering a non-multi token twice in
 * one container is an error.
 */
export class Services {
  private readonly owners = new Map<string, string>();
  constructor(readonly container: DependencyContainer = rootContainer.createChildContainer()) {}

  provide<T>(token: ServiceToken<T>, value: T, owner = 'core'): void {
    if (!token.multi && this.owners.has(token.id)) {
      throw new Error(`service '${token.id}' is already provided by '${this.owners.get(token.id)}'; '${owner}' cannot provide it again`);
    }
    this.owners.set(token.id, owner);
    this.container.register<T>(token.id, { useValue: value });
  }

  resolve<T>(token: ServiceToken<T>): T {
    if (!this.container.isRegistered(token.id, true)) throw new Error(`no service is provided for '${token.id}'`);
    return this.container.resolve<T>(token.id);
  }

  resolveAll<T>(token: ServiceToken<T>): T[] {
    return this.container.isRegistered(token.id, true) ? this.container.resolveAll<T>(token.id) : [];
  }

  child(): Services {
    const c = new Services(this.container.createChildContainer());
    for (const [k, v] of this.owners) c.owners.set(k, v);
    return c;
  }
}
