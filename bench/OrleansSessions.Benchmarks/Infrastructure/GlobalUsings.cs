global using SiloProcess = OrleansSessions.Testing.SiloProcess;
